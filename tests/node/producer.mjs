// Adds one job from Node, as a TypeScript service would.
// Env: REDIS_URL, QUEUE, PREFIX, NAME, DATA (JSON), PRIORITY, JOB_ID. Prints {"id": ...}.
//
// The producer contract (docs/queues.md): every job gets a producer-chosen id,
// a UUID, as BullMQ's jobId. Handlers key their side effects on it, and it must
// never be reused - BullMQ's own counter starts again at 1 when a queue Redis
// loses its data. JOB_ID=counter leaves the id to BullMQ (a producer outside
// the contract, for tests).
import { randomUUID } from "node:crypto";
import { Queue } from "bullmq";
import IORedis from "ioredis";

const connection = new IORedis(process.env.REDIS_URL, { maxRetriesPerRequest: null });
const queue = new Queue(process.env.QUEUE, { connection, prefix: process.env.PREFIX });
const opts = { attempts: 3, backoff: { type: "exponential", delay: 1000 } };
if (process.env.JOB_ID !== "counter") opts.jobId = process.env.JOB_ID || randomUUID();
if (process.env.PRIORITY) opts.priority = Number(process.env.PRIORITY);
const job = await queue.add(process.env.NAME, JSON.parse(process.env.DATA || "{}"), opts);
console.log(JSON.stringify({ id: job.id }));
await queue.close();
await connection.quit();
