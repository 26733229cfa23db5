/* Unit tests for the pure parts of gx/outbox.h (the database paths are covered by test/integration). */
#include "gx/outbox.h"
#include "gx_test.h"

GX_TEST(prefer_wait_parses_and_caps)
{
	GX_CHECK(gx_outbox_prefer_wait(NULL) == 0);
	GX_CHECK(gx_outbox_prefer_wait("") == 0);
	GX_CHECK(gx_outbox_prefer_wait("wait=5") == 5);
	GX_CHECK(gx_outbox_prefer_wait("respond-async, wait=10") == 10);
	GX_CHECK(gx_outbox_prefer_wait("Wait = 7 ; foo") == 7);
	GX_CHECK(gx_outbox_prefer_wait("wait=\"3\"") == 3);
	GX_CHECK(gx_outbox_prefer_wait("wait=31") == 30);
	GX_CHECK(gx_outbox_prefer_wait("wait=99999999") == 0); /* absurdly long: ignored */
	GX_CHECK(gx_outbox_prefer_wait("wait=0") == 0);
}

GX_TEST(prefer_wait_rejects_garbage)
{
	GX_CHECK(gx_outbox_prefer_wait("wait") == 0);
	GX_CHECK(gx_outbox_prefer_wait("wait=") == 0);
	GX_CHECK(gx_outbox_prefer_wait("wait=-1") == 0);
	GX_CHECK(gx_outbox_prefer_wait("wait=5s") == 0);
	GX_CHECK(gx_outbox_prefer_wait("waiting=5") == 0);
	GX_CHECK(gx_outbox_prefer_wait("return=minimal") == 0);
}

int main(void)
{
	GX_RUN(prefer_wait_parses_and_caps);
	GX_RUN(prefer_wait_rejects_garbage);
	return gx_test_done();
}
