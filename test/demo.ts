// The demo: the full restore → go build / go test → save cycle, twice, through the runner harness
// against the embedded local Actions cache service, printing each job's summary.
import { startCacheService } from './cache-service/server.js';
import { makeWorld, newJob, REPO_ROOT, summaryText } from './e2e/world.js';

const service = await startCacheService();
const world = makeWorld();
console.log(`cache service: ${service.url}\nrepository:    ${world.origin}\n`);

try {
  for (const label of ['cold', 'warm']) {
    console.log(`\n################ job ${world.runCount + 1}: ${label} ################`);
    const job = newJob(world, { env: service.env, log: true });
    const t0 = Date.now();
    const main = await job.uses(REPO_ROOT);
    const build = await job.run(
      'go build -x ./... 2>"$RUNNER_TEMP/build-x.log"\n' +
        'echo "packages compiled: $(grep -cE \'[/\\\\]compile\\s\' "$RUNNER_TEMP/build-x.log" || true)"\n' +
        'go test ./...',
      { name: 'go build and go test' },
    );
    const posts = await job.end();
    const seconds = ((Date.now() - t0) / 1000).toFixed(1);
    console.log(`\n---- job summary (${label}, ${seconds} s) ----`);
    console.log(summaryText(job.summary()));
    console.log(`outputs of main: ${JSON.stringify(main.outputs)}`);
    console.log(build.stdout.trim());
    const failed = [main, build, ...posts].filter((s) => s.outcome === 'failure');
    if (failed.length) throw new Error(`steps failed: ${failed.map((s) => s.name).join(', ')}`);
  }
  const t = service.traffic();
  console.log(
    `\ncache service: ${(await service.entries()).length} entries; uploaded ${t.uploadedBytes} B, downloaded ${t.downloadedBytes} B`,
  );
} finally {
  await service.stop();
}
