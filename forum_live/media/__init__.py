"""Audio, video, screen share and recordings over WebRTC (aiortc), issue 7.

The package import is light: `state` (pure domain: mutes, recordings) is imported by
forum_live.domain; everything that needs aiortc/PyAV lives in the other modules and is
only loaded by `MediaService` (signaling.py) when the app starts.
"""
