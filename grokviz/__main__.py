try:
    from grokviz.cli import main
except KeyboardInterrupt:  # Ctrl-C while Python imports: one line, no traceback
    import sys

    print("grokviz: error: interrupted", file=sys.stderr)
    raise SystemExit(130) from None

raise SystemExit(main())
