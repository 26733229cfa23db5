/* Integration-test helper: classifies chaincode messages with gx_cc_error_class (gx/cc_error.h), one per line on
 * stdin, and prints "<class>\t<message>" per line. Messages are classified with status 500, as a contractapi
 * chaincode would carry them. Run by test/integration/test_cc_error.py. */
#include <stdio.h>
#include <string.h>

#include "gx/cc_error.h"

int main(void)
{
	char line[4096];

	while (fgets(line, sizeof(line), stdin)) {
		line[strcspn(line, "\n")] = '\0';
		printf("%d\t%s\n", gx_cc_error_class(line, 500), line);
	}
	return 0;
}
