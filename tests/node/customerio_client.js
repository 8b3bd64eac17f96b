// Customer.io's own Node client against linktrack, with only its URLs changed:
// identify a person, track an event, send a transactional email, trigger a broadcast for
// the person and read the trigger's progress; print the answers as one JSON object.
// Run by tests/e2e/test_tls.py (NODE_EXTRA_CA_CERTS makes Node trust the test's CA).
const { APIClient, SendEmailRequest, TrackClient } = require("customerio-node");

async function main() {
  const env = process.env;
  const track = new TrackClient(env.SITE_ID, env.TRACK_API_KEY, { url: `${env.LINKTRACK_URL}/api/v1` });
  await track.identify("grace", { email: "grace@example.com", first_name: "Grace" });
  await track.track("grace", { name: "signed_up", data: { plan: "pro" } });
  const api = new APIClient(env.APP_API_KEY, { url: `${env.LINKTRACK_URL}/v1` });
  const sent = await api.sendEmail(new SendEmailRequest({
    transactional_message_id: Number(env.MESSAGE_ID),
    to: "grace@example.com",
    from: "team@example.com",
    identifiers: { id: "grace" },
  }));
  const trigger = await api.triggerBroadcast(Number(env.BROADCAST_ID), { promo: "spring" },
    { ids: ["grace"] });
  let status = await api.getBroadcastTriggerStatus(Number(env.BROADCAST_ID), trigger.id);
  for (let n = 0; n < 100 && status.status !== "done"; n++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    status = await api.getBroadcastTriggerStatus(Number(env.BROADCAST_ID), trigger.id);
  }
  console.log(JSON.stringify({ sent, trigger, status }));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
