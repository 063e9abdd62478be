"""Hub nodes (`[redis] url`): which node is home of a live meeting (`homes.py`) and the typed
messages nodes send each other over the shared bus (`wire.py`). The relay that carries a
page's socket to its meeting's home node is a transport: hub/web/relay.py."""
