#ifdef __cplusplus
extern "C" {
#endif
int bx_set_interop_threads(int n);
int bx_get_interop_threads(void);
void bx_set_mkldnn(int on);
int bx_mkldnn_enabled(void);
void *bx_channels_last(void *x);
void bx_param_channels_last(void *p);
#ifdef __cplusplus
}
#endif
