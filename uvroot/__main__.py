"""``python -m uvroot``."""

from uvroot.cli import main

if __name__ == "__main__":
    main()
