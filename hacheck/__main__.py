from hacheck.cli import main

main()
