"""The meeting domain: ids, lifecycle, participants and the events other parts subscribe to."""
