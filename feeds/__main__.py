"""python -m feeds"""

from feeds.cli import main

# Guarded: validation workers import the main module again under another name.
if __name__ == "__main__":
    main()
