"""Pictures: a ladder diagram of a capture's LISP messages, a drawing of a running lab (SVG)."""
