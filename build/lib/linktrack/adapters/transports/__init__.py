"""How deliveries leave: SMTP for email, a signed provider webhook for SMS, WhatsApp and push."""
