#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <unistd.h>
#include <string.h>
#include <time.h>
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec*1e6+t.tv_nsec/1e3;}
static int cmp(const void*a,const void*b){double x=*(double*)a,y=*(double*)b;return x<y?-1:x>y;}
static void rep(const char*n,double*v,int k){qsort(v,k,sizeof(double),cmp);double s=0;for(int i=0;i<k;i++)s+=v[i];printf("%-24s mean %6.1f p50 %6.1f p99 %7.1f p99.9 %8.1f max %8.1f us\n",n,s/k,v[k/2],v[k*99/100],v[k*999/1000],v[k-1]);}
int main(int c,char**a){int N=atoi(a[2]);char buf[8192];memset(buf,'x',sizeof buf);double*v=malloc(N*sizeof(double));char q[256];
 snprintf(q,256,"%s/pre",a[1]);int fd=open(q,O_CREAT|O_RDWR,0644);for(int i=0;i<N;i++)write(fd,buf,6144);fsync(fd);
 for(int i=0;i<N;i++){double t=now();pwrite(fd,buf,6144,(off_t)i*6144);fdatasync(fd);v[i]=now()-t;} rep("prealloc overwrite",v,N);
 snprintf(q,256,"%s/app",a[1]);int fd2=open(q,O_CREAT|O_RDWR|O_APPEND,0644);
 for(int i=0;i<N;i++){double t=now();write(fd2,buf,6144);fdatasync(fd2);v[i]=now()-t;} rep("append",v,N);
 return 0;}
