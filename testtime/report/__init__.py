"""What people see: terminal tables and live progress (rich), plots (matplotlib) and the HTML report."""
