import os
from pathlib import Path

print(Path("/srv/greeting.txt").read_text().strip(), "in", os.environ["APP_HOME"])
