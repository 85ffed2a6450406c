"""python -m feeds"""

from feeds.cli import main

main()
