from ganlab.cli import main

main()
