// A Node BullMQ worker, as the platform's TypeScript services run one.
// Env: REDIS_URL, QUEUE, PREFIX, MAX_JOBS. Prints "ready" once listening, then
// one JSON line per completed job, and exits after MAX_JOBS jobs.
import { Worker } from "bullmq";
import IORedis from "ioredis";

const connection = new IORedis(process.env.REDIS_URL, { maxRetriesPerRequest: null });
const maxJobs = Number(process.env.MAX_JOBS || "1");
let done = 0;

const worker = new Worker(
  process.env.QUEUE,
  async (job) => ({ processedBy: "node", pid: process.pid, name: job.name, data: job.data, priority: job.priority }),
  { connection, prefix: process.env.PREFIX, name: "node-interop" },
);

worker.on("completed", async (job, result) => {
  console.log(JSON.stringify({ id: job.id, result }));
  done += 1;
  if (done >= maxJobs) {
    await worker.close();
    await connection.quit();
    process.exit(0);
  }
});
worker.on("error", (err) => console.error(err));

await worker.waitUntilReady();
console.log("ready");
