"""The four services of Pro account team management and the runtime they share."""
