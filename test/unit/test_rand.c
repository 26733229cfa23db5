/* Unit tests for gx/rand.h: DRBG output, fork separation, UUID v4 shape and validation. */
#include <pthread.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gx/rand.h"
#include "gx_test.h"

static bool all_zero(const unsigned char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

GX_TEST(bytes_are_random_and_large_requests_work)
{
	unsigned char a[32], b[32], big[5000];

	GX_CHECK(gx_rand_bytes(a, sizeof(a)) == 0);
	GX_CHECK(gx_rand_bytes(b, sizeof(b)) == 0);
	GX_CHECK(!all_zero(a, sizeof(a)));
	GX_CHECK(memcmp(a, b, sizeof(a)) != 0);
	memset(big, 0, sizeof(big));
	GX_CHECK(gx_rand_bytes(big, sizeof(big)) == 0);
	/* more than one DRBG request: the tail must be filled too */
	GX_CHECK(!all_zero(big + 4000, 1000));
	GX_CHECK(gx_rand_bytes(a, 0) == 0);
}

GX_TEST(fork_child_gets_a_different_stream)
{
	unsigned char warm[8], parent[32], child[32];
	int fds[2];
	pid_t pid;
	int status = 0;

	GX_CHECK(gx_rand_bytes(warm, sizeof(warm)) == 0); /* make sure the parent's DRBG is seeded before fork */
	GX_CHECK(pipe(fds) == 0);
	pid = fork();
	if (pid == 0) {
		if (gx_rand_bytes(child, sizeof(child)) != 0 || write(fds[1], child, sizeof(child)) != sizeof(child))
			_exit(1);
		_exit(0);
	}
	GX_CHECK(pid > 0);
	GX_CHECK(gx_rand_bytes(parent, sizeof(parent)) == 0);
	GX_CHECK(read(fds[0], child, sizeof(child)) == sizeof(child));
	waitpid(pid, &status, 0);
	GX_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	GX_CHECK(memcmp(parent, child, sizeof(parent)) != 0);
	close(fds[0]);
	close(fds[1]);
}

static void *thread_fill(void *arg)
{
	if (gx_rand_bytes(arg, 32) != 0)
		memset(arg, 0, 32);
	return NULL;
}

GX_TEST(threads_have_independent_generators)
{
	unsigned char a[32], b[32];
	pthread_t t1, t2;

	GX_CHECK(pthread_create(&t1, NULL, thread_fill, a) == 0);
	GX_CHECK(pthread_create(&t2, NULL, thread_fill, b) == 0);
	pthread_join(t1, NULL);
	pthread_join(t2, NULL);
	GX_CHECK(!all_zero(a, sizeof(a)) && !all_zero(b, sizeof(b)));
	GX_CHECK(memcmp(a, b, sizeof(a)) != 0);
}

GX_TEST(uuid_v4_shape)
{
	char u[37], prev[37] = "";

	for (int i = 0; i < 200; i++) {
		GX_CHECK(gx_uuid_v4(u) == 0);
		GX_CHECK(strlen(u) == 36);
		GX_CHECK(gx_uuid_valid(u));
		GX_CHECK(u[14] == '4');
		GX_CHECK(strchr("89ab", u[19]) != NULL);
		for (const char *p = u; *p; p++)
			GX_CHECK((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') || *p == '-');
		GX_CHECK(strcmp(u, prev) != 0);
		memcpy(prev, u, sizeof(u));
	}
}

GX_TEST(uuid_valid_cases)
{
	GX_CHECK(gx_uuid_valid("123e4567-e89b-42d3-a456-426614174000"));
	GX_CHECK(gx_uuid_valid("123E4567-E89B-42D3-A456-426614174000"));
	GX_CHECK(!gx_uuid_valid(NULL));
	GX_CHECK(!gx_uuid_valid(""));
	GX_CHECK(!gx_uuid_valid("123e4567-e89b-42d3-a456-42661417400"));
	GX_CHECK(!gx_uuid_valid("123e4567-e89b-42d3-a456-4266141740000"));
	GX_CHECK(!gx_uuid_valid("123e4567e89b-42d3-a456-4266141740000"));
	GX_CHECK(!gx_uuid_valid("123e4567-e89b-42d3-a456-42661417400g"));
	GX_CHECK(!gx_uuid_valid("{23e4567-e89b-42d3-a456-426614174000"));
	GX_CHECK(!gx_uuid_valid("123e4567-e89b-42d3-a456_426614174000"));
}

int main(void)
{
	GX_RUN(bytes_are_random_and_large_requests_work);
	GX_RUN(fork_child_gets_a_different_stream);
	GX_RUN(threads_have_independent_generators);
	GX_RUN(uuid_v4_shape);
	GX_RUN(uuid_valid_cases);
	return gx_test_done();
}
