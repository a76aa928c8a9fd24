from kuota.cli import main

main()
