-- A request's new status is announced to every instance sharing the database (LISTEN
-- changegate_request, payload: the request's number), so a user waiting at the gateway or in the
-- web terminal connects as soon as an approver on any instance decides, whatever path changed it
-- (a decision, a withdrawal, a revoke, an expiry, a cancelled change).
CREATE FUNCTION access_request_status_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('changegate_request', NEW.number::text);
  RETURN NEW;
END
$$;

CREATE TRIGGER access_request_status_notify
  AFTER UPDATE OF status ON access_request
  FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
  EXECUTE FUNCTION access_request_status_notify();
