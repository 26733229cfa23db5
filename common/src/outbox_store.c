/* The "OutboxCommand" store: every statement on the table (gx/outbox_store.h). */
#include "gx/outbox_store.h"

/* ==== The APIs, svc-admin and gxctl ==== */

/* ---- end of the APIs' part ---- */

/* ==== The outbox-submitter ==== */

/* ---- end of the submitter's part ---- */
