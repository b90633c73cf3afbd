// The one C header the IdaBLAS target sees: OpenBLAS's CBLAS interface.
#ifndef IDAMOE_COPENBLAS_SHIM_H
#define IDAMOE_COPENBLAS_SHIM_H
#include <cblas.h>
// Declared by OpenBLAS; repeated so the shim does not depend on which cblas.h is found first.
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
char *openblas_get_config(void);
char *openblas_get_corename(void);
#endif
