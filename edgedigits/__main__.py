"""`python -m edgedigits`: the same command as the `edgedigits` console script."""

from edgedigits.cli import main

if __name__ == "__main__":
    main()
