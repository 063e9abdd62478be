"""Length-prefixed frames (`frames.py`) and the child processes spoken to in them (`child.py`)."""
