"""``python -m uvroot``."""

from uvroot.noop import main

if __name__ == "__main__":
    main()
