from hacheck.commands.cli import main

# the guard matters: --jobs workers started with "spawn" (macOS, Windows) import __main__
if __name__ == "__main__":
    main()
