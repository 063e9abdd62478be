"""What a meeting keeps, put where a running `hub serve` keeps it (its SQLite database and its
local recordings folder), for tests in the browser and for the README's pictures: transcript
lines by two people, a summary, and one recording of two tracks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, update
from sqlalchemy.orm import Session

from hub.db.models import Meeting, TranscriptLine
from hub.recording.manifest import Manifest, TrackEntry, key

RECORDING_ID = "5eed0000c0ffee01"
LINES = (
    ("p1", "Amélie Rousseau", "Bonjour à tous, on commence par le budget."),
    ("p2", "Bastien Leroy", "Le chiffrage est prêt, je le partage après la réunion."),
    ("p1", "Amélie Rousseau", "Parfait, on valide donc le calendrier."),
)
SUMMARY = "- Le budget est présenté par Amélie Rousseau.\n- Le calendrier est validé."


def keep_sample(data_dir: Path, meeting_id: str) -> Manifest:
    """Keep the sample transcript, summary and recording for `meeting_id`; returns the
    recording's manifest (its files are in the store next to it)."""
    engine = create_engine(f"sqlite:///{data_dir / 'hub.sqlite3'}")
    now = datetime.now(UTC)
    with Session(engine) as db, db.begin():
        for second, (participant, speaker, text) in enumerate(LINES):
            db.add(
                TranscriptLine(
                    meeting_id=meeting_id, participant_id=participant, speaker=speaker,
                    start_seconds=4.0 * second, end_seconds=4.0 * second + 3.5, text=text,
                    language="fr", kept_at=now,
                )
            )  # fmt: skip
        db.execute(
            update(Meeting).where(Meeting.id == meeting_id).values(transcript_summary=SUMMARY)
        )
    engine.dispose()
    tracks = [
        TrackEntry(
            file="01-microphone.ogg", participant_id="p1", name="Amélie Rousseau",
            kind="audio", source="microphone", codec="opus", start=0.0, duration=754.2,
            frames=37710,
        ),
        TrackEntry(
            file="02-camera.webm", participant_id="p1", name="Amélie Rousseau", kind="video",
            source="camera", codec="vp8", start=0.06, duration=754.1, frames=11311,
            width=640, height=360,
        ),
    ]  # fmt: skip
    ended = now - timedelta(minutes=5)
    manifest = Manifest(
        recording_id=RECORDING_ID, meeting_id=meeting_id,
        started_at=ended - timedelta(seconds=754.3), ended_at=ended,
        expires_at=ended + timedelta(days=30), started_by="Camille Durand", tracks=tracks,
    )  # fmt: skip
    root = data_dir / "recordings"
    sizes = {"01-microphone.ogg": 3_017_000, "02-camera.webm": 21_480_000}
    for name, size in sizes.items():
        path = root / key(meeting_id, RECORDING_ID, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as handle:
            handle.truncate(size)  # sparse: the page reads only the size
    (root / key(meeting_id, RECORDING_ID)).write_bytes(manifest.to_bytes())
    return manifest
