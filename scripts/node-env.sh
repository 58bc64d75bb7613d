# Sourced (by sh or bash) from the checkout's root, as npm runs package scripts and as scripts/*.sh do after their cd:
# puts the Node.js that scripts/install.sh installed for Kiln into .node/ (when the machine's own Node was not a
# supported one) first on PATH, so that node, npm and every `#!/usr/bin/env node` tool run on the Node that
# better-sqlite3 was built against. Without .node/, the machine's Node is Kiln's and nothing changes.
if [ -x .node/bin/node ]; then
  PATH="$PWD/.node/bin:$PATH"
  export PATH
fi
