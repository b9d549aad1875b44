"""`python -m clients.staff`: the staff CLI, the same as the `palm` command."""

from clients.staff.app import main

if __name__ == "__main__":
    main()
