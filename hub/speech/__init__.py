"""Speech to text behind one port (issue 16): Kyutai's streaming server, an OpenAI-compatible
transcription endpoint, or faster-whisper in process. Not yet wired into meetings."""
