"""DVC stage: fetch the EmoDB archive (or the SER_EMODB_SOURCE override) and extract it to data/raw."""

from typing import Any

from ser.data.download import download_emodb
from ser.pipeline import stage
from ser.pipeline.paths import RAW_DIR


def main(params: dict[str, Any]) -> None:
    p = params["download"]
    download_emodb(p["url"], RAW_DIR, timeout_s=float(p["timeout_s"]), retries=int(p["retries"]))


if __name__ == "__main__":
    stage.run(main)
