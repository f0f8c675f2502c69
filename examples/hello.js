// hello.js: the node:cluster "hello world" as a clusterd worker.
//
//	clusterd -n 4 -- node examples/hello.js
//
// clusterd binds the port once and hands it to every worker as fd 3 (the
// systemd LISTEN_FDS protocol), so there is no cluster.isPrimary branch: each
// worker is a plain server that listens on the inherited socket.  The kernel
// spreads the connections; clusterd restarts a worker that dies.
//
// CommonJS, so that it runs on any node (Debian 12 ships node 18).
const http = require("node:http");
const process = require("node:process");

const id = process.env.CLUSTERD_WORKER_ID;

const server = http
  .createServer((req, res) => {
    res.setHeader("Content-Type", "text/plain");
    res.end(`hello world from worker ${id} (pid ${process.pid})\n`);
  })
  .listen({ fd: 3 });

console.log(`worker ${id} (pid ${process.pid}) started`);

// Stop gracefully: stop accepting, let the requests in flight finish,
// close idle keep-alive connections, then exit.
function stop() {
  server.close(() => process.exit(0));
  server.closeIdleConnections();
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
