"""The web page in a real headless Chromium: upload an utterance and a call, see the results, take screenshots."""

import dataclasses
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from werkzeug.serving import make_server

from ser.audio.channels import Condition
from serve.app import create_app
from tests.api_fixtures import build_served_project
from tests.audio_samples import encode, headerless
from tests.speech import SENTENCES, SR, VOICES, build_call, melody, needs_espeak, say, wav_bytes
from tests.synthetic import synthetic_signal

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")

pytestmark = [
    pytest.mark.system,
    pytest.mark.browser,
    pytest.mark.skipif(
        not (CHROMIUM and CHROMEDRIVER),
        reason="needs Debian's chromium and chromium-driver (scripts/project test installs them)",
    ),
]


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return build_served_project(tmp_path_factory.mktemp("web"))


def _serve(settings) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, create_app(settings), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture(scope="module")
def site(project):
    yield from _serve(project)


@pytest.fixture(scope="module")
def guarded_site(project):
    """The same project served with an access token for recordings (SER_DATA_TOKEN)."""
    yield from _serve(dataclasses.replace(project, data_token="s3cret"))


@pytest.fixture()
def browser(tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--window-size=1100,900", f"--user-data-dir={tmp_path / 'profile'}",
    ):  # fmt: skip
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def submit(
    browser, site, audio: Path, kind: str, screenshot: Path, leg: str = "", agent: Path | None = None, customer="0"
) -> str:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import Select, WebDriverWait

    browser.get(site + "/")
    browser.find_element(By.ID, "file").send_keys(str(audio))
    browser.find_element(By.CSS_SELECTOR, f"input[name=kind][value={kind}]").click()
    Select(browser.find_element(By.ID, "leg")).select_by_value(leg)
    Select(browser.find_element(By.ID, "customer")).select_by_value(customer)
    if agent is not None:
        browser.find_element(By.ID, "agent-file").send_keys(str(agent))
    browser.find_element(By.ID, "submit").click()
    WebDriverWait(browser, 30).until(expected_conditions.text_to_be_present_in_element((By.ID, "status"), "Done."))
    browser.save_screenshot(str(screenshot))
    assert screenshot.stat().st_size > 10_000
    return browser.find_element(By.ID, "verdict").text


def test_upload_an_utterance_and_see_its_emotion(browser, site, tmp_path):
    from selenium.webdriver.common.by import By

    audio = tmp_path / "anger.wav"
    audio.write_bytes(encode(synthetic_signal("08a01Wa", 1.0)))
    verdict = submit(browser, site, audio, "utterance", tmp_path / "utterance.png")
    assert verdict.startswith("Emotion: ")
    assert len(browser.find_elements(By.CSS_SELECTOR, ".bar")) == 7


@needs_espeak
def test_an_upload_of_several_sentences_shows_each_utterance(browser, site, tmp_path):
    from selenium.webdriver.common.by import By

    audio = tmp_path / "two.wav"
    pause = np.zeros(SR, np.float32)
    audio.write_bytes(wav_bytes(np.concatenate([pause, say(SENTENCES[1], VOICES[0]), pause,
                                                say(SENTENCES[3], VOICES[0]), pause])))  # fmt: skip
    assert submit(browser, site, audio, "utterance", tmp_path / "two.png").startswith("Emotion: ")
    listed = browser.find_element(By.ID, "utterances").text
    assert listed.startswith("2 utterances, each classified") and listed.count(" s ") == 2, listed


def test_a_server_that_asks_for_an_access_token_gets_it_from_the_page(browser, guarded_site, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    audio = tmp_path / "anger.wav"
    audio.write_bytes(encode(synthetic_signal("08a01Wa", 1.0)))
    browser.get(guarded_site + "/")
    browser.find_element(By.ID, "file").send_keys(str(audio))
    browser.find_element(By.ID, "submit").click()
    WebDriverWait(browser, 30).until(expected_conditions.text_to_be_present_in_element((By.ID, "status"), "Error"))
    assert "access token" in browser.find_element(By.ID, "status").text
    browser.find_element(By.ID, "token").send_keys("s3cret")
    browser.find_element(By.ID, "submit").click()
    WebDriverWait(browser, 30).until(expected_conditions.text_to_be_present_in_element((By.ID, "status"), "Done."))
    assert browser.find_element(By.ID, "verdict").text.startswith("Emotion: ")


def test_hold_music_uploaded_as_an_utterance_shows_the_no_speech_warning(browser, site, tmp_path):
    from selenium.webdriver.common.by import By

    audio = tmp_path / "hold.wav"
    audio.write_bytes(wav_bytes(melody(4.0, 5)))
    assert submit(browser, site, audio, "utterance", tmp_path / "music.png").startswith("Emotion: ")
    assert "heard no speech" in browser.find_element(By.ID, "warning").text


@needs_espeak
def test_upload_a_call_and_see_roles_trend_worst_moment_and_hear_a_segment(browser, site, tmp_path):
    from selenium.webdriver.common.by import By

    call = build_call()
    audio = tmp_path / "call.wav"
    audio.write_bytes(wav_bytes(call.signal))
    verdict = submit(browser, site, audio, "call", tmp_path / "call.png")
    assert verdict.startswith("Customer satisfaction: ") and "trend" in verdict
    segments = browser.find_elements(By.CSS_SELECTOR, "#timeline rect.segment")
    assert len(segments) == len(call.turns)
    assert [s.get_attribute("data-role") for s in segments][:2] == ["agent", "customer"]
    assert {r.get_attribute("data-role") for r in browser.find_elements(By.CSS_SELECTOR, "tr.role")} == {
        "customer",
        "agent",
    }
    assert browser.find_element(By.ID, "worst-moment").text.startswith("Strongest negative moment: ")
    assert not browser.find_elements(By.ID, "audio-warnings")  # a clean call
    segments[1].click()
    assert browser.find_element(By.ID, "playing").text.startswith("Playing customer, ")
    position = browser.execute_script("return document.getElementById('call-audio').currentTime")
    assert abs(position - call.turns[1][0]) < 0.5


@needs_espeak
def test_a_call_the_browser_cannot_play_is_analysed_and_says_why_it_does_not_play(browser, site, tmp_path):
    """Raw μ-law from a PBX: the server reads it by its suffix; Chromium cannot play it, and the page says so."""
    import librosa
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    call = build_call()
    audio = tmp_path / "pbx-call.ul"
    audio.write_bytes(headerless(librosa.resample(call.signal, orig_sr=SR, target_sr=8000), ".ul"))
    assert submit(browser, site, audio, "call", tmp_path / "raw.png").startswith("Customer satisfaction: ")
    segments = browser.find_elements(By.CSS_SELECTOR, "#timeline rect.segment")
    assert len(segments) == len(call.turns)
    segments[0].click()
    playing = browser.find_element(By.ID, "playing")
    WebDriverWait(browser, 10).until(lambda _: "cannot play" in playing.text)
    assert "analysis is not affected" in playing.text and playing.get_attribute("class") == "error"


@needs_espeak
def test_a_reverberant_side_of_a_call_is_shown_with_a_warning(browser, site, tmp_path):
    from selenium.webdriver.common.by import By

    call = build_call(stereo=True)
    lanes = call.signal.copy()
    room = Condition("room", [{"reverb": {"rt60_s": 0.6, "direct_ratio": 1}}], seed=1)
    lanes[:, 1] = room.apply(call.signal[:, 1], SR, "agent")[0][: len(lanes)]
    audio = tmp_path / "hands-free-agent.wav"
    audio.write_bytes(wav_bytes(lanes, subtype="FLOAT"))
    assert submit(browser, site, audio, "call", tmp_path / "reverberant.png").startswith("Customer")
    warnings = [li.text for li in browser.find_elements(By.CSS_SELECTOR, "#audio-warnings li")]
    assert warnings == ["Warning: agent: reverberant (hands-free or a room): emotions are less reliable"]


@needs_espeak
def test_one_leg_of_a_call_is_shown_as_that_role_alone(browser, site, tmp_path):
    from selenium.webdriver.common.by import By

    call = build_call()
    audio = tmp_path / "customer-leg.wav"
    audio.write_bytes(wav_bytes(call.signal))
    assert submit(browser, site, audio, "call", tmp_path / "leg.png", leg="customer").startswith("Customer")
    segments = browser.find_elements(By.CSS_SELECTOR, "#timeline rect.segment")
    assert len(segments) == len(call.turns) and {s.get_attribute("data-role") for s in segments} == {"customer"}
    assert "one side of the call: every voice is the customer's" in browser.find_element(By.ID, "result").text


@needs_espeak
def test_a_stereo_call_s_customer_channel_can_be_told_by_who_speaks_first(browser, site, tmp_path):
    from selenium.webdriver.common.by import By

    call = build_call(stereo=True)
    audio = tmp_path / "agent-on-the-right.wav"
    audio.write_bytes(wav_bytes(call.signal[:, ::-1]))  # voice 0 (the agent: it speaks first) on channel 1
    submit(browser, site, audio, "call", tmp_path / "auto.png", customer="auto")
    segments = browser.find_elements(By.CSS_SELECTOR, "#timeline rect.segment")
    assert [s.get_attribute("data-role") for s in segments] == [
        "agent" if voice == 0 else "customer" for *_, voice in call.turns
    ]
    text = browser.find_element(By.ID, "result").text
    assert "roles by channel (customer on channel 0, told by who speaks first: the agent)" in text


@needs_espeak
def test_a_call_in_two_files_is_shown_by_role_and_each_segment_plays_from_its_own_leg(browser, site, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    call = build_call(stereo=True)  # voice 0 (the agent here) speaks first, on channel 0
    customer, agent = tmp_path / "customer.wav", tmp_path / "agent.wav"
    customer.write_bytes(wav_bytes(call.signal[:, 1]))
    agent.write_bytes(wav_bytes(call.signal[:, 0]))
    submit(browser, site, customer, "call", tmp_path / "legs.png", agent=agent)
    segments = browser.find_elements(By.CSS_SELECTOR, "#timeline rect.segment")
    assert [s.get_attribute("data-role") for s in segments] == [
        "agent" if voice == 0 else "customer" for *_, voice in call.turns
    ]
    assert "roles by file (the customer's and the agent's legs)" in browser.find_element(By.ID, "result").text
    sources = []
    for index in (0, 1):  # the agent's segment from the agent's file, then the customer's from the customer's
        segments[index].click()
        WebDriverWait(browser, 10).until(
            lambda driver, i=index: (
                abs(
                    driver.execute_script("return document.getElementById('call-audio').currentTime") - call.turns[i][0]
                )
                < 0.5
            )
        )
        sources.append(browser.execute_script("return document.getElementById('call-audio').src"))
    assert sources[0] != sources[1] and browser.find_element(By.ID, "playing").text.startswith("Playing customer, ")


def test_an_error_is_shown_to_the_user(browser, site, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not audio")
    browser.get(site + "/")
    browser.find_element(By.ID, "file").send_keys(str(bad))
    browser.find_element(By.ID, "submit").click()
    WebDriverWait(browser, 30).until(expected_conditions.text_to_be_present_in_element((By.ID, "status"), "Error"))
    assert "cannot decode audio" in browser.find_element(By.ID, "status").text
