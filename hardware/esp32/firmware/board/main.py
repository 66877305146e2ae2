# citylab kit firmware: runs at boot. Settings are in config.json
# (written by 'citylab kit provision'); press Ctrl-C in mpremote to stop.
from citylab_fw import app

app.run()
