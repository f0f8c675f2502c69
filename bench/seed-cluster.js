// seed-cluster.js: the seed's program (NodeJs-Cluster README), as written,
// for the benchmarks. Two changes, both outside the request path:
//  - listen(PORT) instead of listen(3000), so that the benchmark picks a
//    free port;
//  - WORKERS overrides availableParallelism() (the memory and idle
//    benchmarks run 8 workers on a 2-core machine).
// Under node it is the node:cluster primary and its workers; under
// `pm2 start seed-cluster.js -i N` PM2's daemon is the primary and only the
// worker branch runs.

import cluster from "node:cluster";
import http from "node:http";
import { availableParallelism } from "node:os";
import process from "node:process";

const numCPUs = Number(process.env.WORKERS) || availableParallelism();
const PORT = Number(process.env.PORT) || 3000;

if (cluster.isPrimary) {
  for (let index = 0; index < numCPUs; index++) {
    cluster.fork();
  }
  cluster.on("exit", (worker, code, signal) => {
    console.log(`worker ${worker.process.pid} died`);
  });
} else {
  http
    .createServer((req, res) => {
      res.writeHead(200);

      res.end("hello world");
    })
    .listen(PORT);

  console.log(`woker ${process.pid}started`);
}
