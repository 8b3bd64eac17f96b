// Customer.io's own Node client against linktrack, with only its URLs changed:
// identify a person, track an event, send a transactional email; print the send's answer.
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
  console.log(JSON.stringify(sent));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
