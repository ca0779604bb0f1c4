"""Where tickaccel's own feeds go unless told otherwise: MoldUDP64 session and UDP destination.

The generator, the player, the framing for the RTL and the testbenches all use these, and
the command line shows them as defaults, so this module imports nothing.
"""

SESSION = "TICKACCEL1"
DEST_IP = "233.54.12.111"
DEST_PORT = 26400
