import sys

from aws_emulator.cli import main

sys.exit(main())
