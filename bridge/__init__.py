"""Matrix bot that starts, embeds and follows meetings from Tchap/Matrix rooms (later issue)."""
