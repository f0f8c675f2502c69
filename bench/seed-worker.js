// seed-worker.js: the seed's worker code (NodeJs-Cluster README) as clusterd
// runs it. The one change: listen({ fd: 3 }), the socket clusterd passes,
// instead of listen(3000); there is no primary branch, clusterd is the
// primary. The benchmarks compare it with the seed's own program under
// node:cluster and PM2 (seed-cluster.js), request for request the same.

import http from "node:http";
import process from "node:process";

http
  .createServer((req, res) => {
    res.writeHead(200);

    res.end("hello world");
  })
  .listen({ fd: 3 });

console.log(`woker ${process.pid}started`);
