"""The pure core: state, commands, decisions and the fold. No I/O, no awaits.

Importing the package loads every capability, so their commands, deciders and folds are
registered wherever the domain is used.
"""

from . import breakouts as _breakouts  # noqa: F401
from . import chat as _chat  # noqa: F401
from . import polls as _polls  # noqa: F401
from . import minutes as _minutes  # noqa: F401
from . import media as _media  # noqa: F401  (mutes, recordings)
from . import lobby as _lobby  # noqa: F401
from . import floor as _floor  # noqa: F401
from . import qa as _qa  # noqa: F401
from . import reactions as _reactions  # noqa: F401
from . import timers as _timers  # noqa: F401
from . import slides as _slides  # noqa: F401  (impulse slides, §10)
from . import mic as _mic  # noqa: F401  (ask to unmute)
from . import review as _review  # noqa: F401  (minutes review and approval)
from . import series as _series  # noqa: F401  (series and carry-forward, §8)
from . import agenda as _agenda  # noqa: F401  (the run of show)
from . import planning as _planning  # noqa: F401  (editing a forum before it starts)
