"""The pure core: state, commands, decisions and the fold. No I/O, no awaits."""
