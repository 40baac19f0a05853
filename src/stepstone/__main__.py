"""``python -m stepstone``: the same as the ``stepstone`` command."""

from .cli import main

if __name__ == "__main__":
    main()
