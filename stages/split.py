"""DVC stage: split EmoDB by speaker into train and test manifests."""

from typing import Any

from ser.data.split import manifest, speaker_split
from ser.pipeline import stage
from ser.pipeline.paths import SPLIT_DIR, TEST_MANIFEST, TRAIN_MANIFEST, WAV_DIR


def main(params: dict[str, Any]) -> None:
    train, test = speaker_split(manifest(WAV_DIR), params["split"]["test_speakers"])
    SPLIT_DIR.mkdir(parents=True, exist_ok=True)
    train.to_csv(TRAIN_MANIFEST, index=False)
    test.to_csv(TEST_MANIFEST, index=False)
    stage.log.info("train: %d recordings of speakers %s", len(train), sorted(set(train["speaker"])))
    stage.log.info("test: %d recordings of speakers %s", len(test), sorted(set(test["speaker"])))


if __name__ == "__main__":
    stage.run(main)
