"""What leaves the system: minutes in every format, poll results and attendance as CSV."""
