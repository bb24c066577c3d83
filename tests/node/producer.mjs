// Adds one job from Node, as a TypeScript service would.
// Env: REDIS_URL, QUEUE, PREFIX, NAME, DATA (JSON), PRIORITY. Prints {"id": ...}.
import { Queue } from "bullmq";
import IORedis from "ioredis";

const connection = new IORedis(process.env.REDIS_URL, { maxRetriesPerRequest: null });
const queue = new Queue(process.env.QUEUE, { connection, prefix: process.env.PREFIX });
const opts = { attempts: 3, backoff: { type: "exponential", delay: 1000 } };
if (process.env.PRIORITY) opts.priority = Number(process.env.PRIORITY);
const job = await queue.add(process.env.NAME, JSON.parse(process.env.DATA || "{}"), opts);
console.log(JSON.stringify({ id: job.id }));
await queue.close();
await connection.quit();
