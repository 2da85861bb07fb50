-- Answers that are final for a number (CAMS refused this number itself: Unknown.ResourceOwnerId,
-- invalid parameters). Like a stored profile, such an answer is fresh for a run's max age: a number
-- refused more recently than that is failed again from here, without spending a call.
CREATE TABLE number_failures (
  cust_space_id text        NOT NULL,
  phone_number  text        NOT NULL,
  error_code    text        NOT NULL,
  error_message text        NOT NULL,
  failed_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (cust_space_id, phone_number)
);
