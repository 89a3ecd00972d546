"""The overseer app's screens: briefing, item, practice feedback, notices, help, done."""
