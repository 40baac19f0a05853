"""The ranking report in a real browser: headless Chromium driven by Selenium (Debian's
`chromium` and `chromium-driver`; `.ci/run` installs them). The page renders (the screenshot is
not blank and the plot decodes), sorting by a column reorders the rendered rows, and the page
makes no network request. Skipped only when no Chromium or driver can be found."""

from __future__ import annotations

import io
import json
import shutil

import numpy as np
import pytest

from tests.rank.rankings import plain_ranking

pytestmark = pytest.mark.integration

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "chrome")
DRIVERS = ("chromedriver", "chromium-driver")


def _find(names: tuple[str, ...]) -> str | None:
    return next((path for path in map(shutil.which, names) if path), None)


@pytest.fixture(scope="module")
def browser():
    binary, driver_path = _find(BROWSERS), _find(DRIVERS)
    if binary is None or driver_path is None:
        pytest.skip("no Chromium and chromedriver found (apt-get install chromium "
                    "chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1280,1600", "--disable-extensions",
                 "--disable-background-networking", "--no-first-run"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    names = ["sst2", "banking77", "cola", "mnli", "ag_news", "trec_fine", "emotion", "yelp",
             "imdb", "qnli", "rte", "zebra"]
    ranking = plain_ranking(names=names)
    # scores that do not follow the names, so that sorting by either column tells them apart
    scores = [-0.70, -0.71, -0.715, -0.72, -0.73, -0.74, -0.745, -0.75, -0.76, -0.78, -0.79, -0.8]
    ranking.sources = [type(s)(**{**s.__dict__, "score": score})
                       for s, score in zip(ranking.sources, scores)]
    path = tmp_path_factory.mktemp("report") / "ranking.html"
    ranking.to_html(path)
    return path, ranking


def _rows(driver, column: int) -> list[str]:
    from selenium.webdriver.common.by import By

    table = driver.find_element(By.CSS_SELECTOR, "table.sortable")
    return [row.find_elements(By.TAG_NAME, "td")[column].text
            for row in table.find_elements(By.CSS_SELECTOR, "tbody tr")]


def _header(driver, text: str):
    from selenium.webdriver.common.by import By

    table = driver.find_element(By.CSS_SELECTOR, "table.sortable")
    return next(th for th in table.find_elements(By.TAG_NAME, "th") if th.text.startswith(text))


def test_the_report_renders_sorts_and_stays_offline(browser, report):
    path, ranking = report
    browser.get_log("performance")  # drop what came before
    browser.get(path.as_uri())
    assert "Which dataset to fine-tune on before my_target" in browser.title + browser.page_source

    # rendered, not blank: the plot decoded and the screenshot has real content
    assert browser.execute_script(
        "var i = document.querySelector('img.plot'); return i.complete && i.naturalWidth;") > 500
    from matplotlib.image import imread

    shot = imread(io.BytesIO(browser.get_screenshot_as_png()), format="png")
    grey = shot[..., :3].mean(axis=2)
    assert grey.std() > 0.05 and (grey < 0.5).mean() > 0.005  # dark text and bars on white
    assert len(np.unique((shot[..., :3] * 255).astype(int).reshape(-1, 3), axis=0)) > 50

    names = [s.task_name for s in ranking.sources]
    assert _rows(browser, 1) == names  # ranked order as written
    _header(browser, "source").click()
    assert _rows(browser, 1) == sorted(names)
    _header(browser, "source").click()
    assert _rows(browser, 1) == sorted(names, reverse=True)
    _header(browser, "score").click()  # numbers sort as numbers, ascending first
    by_score = sorted(ranking.sources, key=lambda s: s.score)
    assert _rows(browser, 1) == [s.task_name for s in by_score]
    _header(browser, "rank").click()
    _header(browser, "rank").click()  # descending
    assert _rows(browser, 0) == [str(r) for r in range(len(names), 0, -1)]

    # no network: the only request is the file itself (data: images need none)
    requests = [json.loads(entry["message"])["message"] for entry in
                browser.get_log("performance")]
    urls = [m["params"]["request"]["url"] for m in requests
            if m.get("method") == "Network.requestWillBeSent"]
    assert urls and all(u == path.as_uri() or u.startswith("data:") for u in urls), urls
    fetched = browser.execute_script(
        "return performance.getEntriesByType('resource').map(function (e) { return e.name; });")
    assert [u for u in fetched if not u.startswith("data:")] == []
